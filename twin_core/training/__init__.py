"""Fine-tuning the twin: one entry point (``python -m twin_core.training``) that runs the same
way in-process, under ``torchrun`` and under ``deepspeed``."""
