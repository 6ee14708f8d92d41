"""The adapter is merged in the base's own dtype: a bf16 base gives a bf16 export (a fp32 one
would double the disk, 280 GB for 70B), with the adapter's weights folded in."""

from __future__ import annotations

from tests.serving.test_adapters import make_adapter


def test_a_bf16_base_is_merged_and_saved_in_bf16_with_the_adapter_in_it(tiny_model_dir, tmp_path):
    import torch
    from peft import PeftModel
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from twin_core.models.merge import merge_adapter

    base_dir = tmp_path / "base-bf16"
    AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.bfloat16).save_pretrained(base_dir)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(base_dir)
    adapter = make_adapter(base_dir, tmp_path / "adapter", seed=3)
    merged_dir = merge_adapter(base_dir, adapter, tmp_path / "merged")

    with safe_open(str(merged_dir / "model.safetensors"), "pt") as weights:
        names = weights.keys()  # a safetensors handle, not a dict
        dtypes = {weights.get_tensor(name).dtype for name in names}
    assert dtypes == {torch.bfloat16}
    assert (merged_dir / "tokenizer_config.json").is_file()  # the base's tokenizer travels along

    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype="auto").eval()
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype="auto")
    unmerged = PeftModel.from_pretrained(base, adapter).eval()
    ids = torch.tensor([[1, 4, 7, 10, 13]])
    with torch.no_grad():
        # bf16 rounds the folded weights: close to the adapter applied on the fly, far from none.
        assert torch.allclose(merged(ids).logits.float(), unmerged(ids).logits.float(), atol=5e-2)
        plain = AutoModelForCausalLM.from_pretrained(base_dir, dtype="auto").eval()
        assert not torch.allclose(merged(ids).logits.float(), plain(ids).logits.float(), atol=5e-2)
