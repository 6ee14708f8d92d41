"""Text generation with transformers, shaped like TGI's: token ids, text pieces, logprobs,
finish reasons and stop sequences, streamed one token at a time.

Generation runs ``model.generate`` itself (so speed matches in-process use). Only what a request
asks for is hooked in: a streamer when tokens are wanted one by one (streaming, details, stop
sequences), the chosen token's logprob when details are wanted, a stopping check when there are
stop sequences or the client may go away. A plain request runs ``generate`` exactly as in-process
code would and decodes its tokens afterwards. One generation at a time: CPU inference gains
nothing from more.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ModelSource = Callable[[], tuple[str, str]]
"""Returns (model folder, version) of the model that should be served now."""

AdapterSource = Callable[[], dict[str, tuple[str, str]]]
"""Returns {adapter name: (adapter folder, version)} of the LoRA adapters to keep resident."""


class GenerationValidationError(ValueError):
    """The request cannot be served as asked (TGI's ``validation`` error type)."""


class ModelNotLoaded(RuntimeError):
    """The server is up but its model is not loaded yet."""


# Below this, dividing the logits by the temperature overflows float32 (torch then raises on
# inf probabilities); sampling that cold is greedy decoding in all but name, so it runs greedy.
MIN_SAMPLING_TEMPERATURE = 1e-4
MAX_TEMPERATURE = 100.0


@dataclass
class GenerationParams:
    max_new_tokens: int = 20
    do_sample: bool = False
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    typical_p: float | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    truncate: int | None = None
    adapter: str | None = None  # a resident LoRA adapter's name; None: the base model

    @property
    def sampling(self) -> bool:
        # As in TGI: any warper turns sampling on; a temperature too cold to sample is greedy.
        if self.temperature is not None and self.temperature < MIN_SAMPLING_TEMPERATURE:
            return False
        return bool(
            self.do_sample
            or (self.temperature is not None and self.temperature != 1.0)
            or self.top_k
            or self.top_p
            or self.typical_p
        )

    def check(self) -> None:
        """TGI's parameter validation, with its messages."""
        finite = (self.temperature, self.top_p, self.typical_p, self.repetition_penalty)
        if any(v is not None and not math.isfinite(v) for v in finite):
            raise GenerationValidationError("sampling parameters must be finite numbers")
        if self.temperature is not None and not 0 < self.temperature <= MAX_TEMPERATURE:
            raise GenerationValidationError(
                f"`temperature` must be strictly positive and at most {MAX_TEMPERATURE:g}")
        if self.repetition_penalty is not None and self.repetition_penalty <= 0:
            raise GenerationValidationError("`repetition_penalty` must be strictly positive")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise GenerationValidationError("`top_p` must be > 0.0 and <= 1.0")
        if self.typical_p is not None and not 0 < self.typical_p < 1:
            raise GenerationValidationError("`typical_p` must be > 0.0 and < 1.0")
        if self.top_k is not None and self.top_k <= 0:
            raise GenerationValidationError("`top_k` must be strictly positive")
        if self.max_new_tokens < 1:
            raise GenerationValidationError("`max_new_tokens` must be strictly positive")


@dataclass
class TokenEvent:
    id: int
    text: str
    logprob: float | None
    special: bool


@dataclass
class GenerationResult:
    text: str
    tokens: list[TokenEvent]
    finish_reason: str  # length | eos_token | stop_sequence
    input_length: int
    prefill: list[tuple[int, str]]
    seed: int | None


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    path: str
    version: str
    max_position: int
    # Read once per model, not per request.
    special_ids: frozenset[int] = frozenset()
    eos_ids: tuple[int, ...] = ()
    pad_id: int = 0
    # Resident LoRA adapters on this base: name -> (folder, version).
    adapters: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        return f"{Path(self.path).name}@{self.version}" if self.version else Path(self.path).name


def load_model(path: str, version: str) -> LoadedModel:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(path)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if (folder / "adapter_config.json").exists():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        model = model.merge_and_unload()
    else:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    max_position = int(getattr(model.config, "max_position_embeddings", 0) or 2048)
    eos_ids = tuple(_eos_ids(model, tokenizer))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos_ids[0] if eos_ids else 0)
    # The turn's end token is special even where the tokenizer does not list it (GGUF imports).
    return LoadedModel(model, tokenizer, str(folder), version, max_position,
                       frozenset(tokenizer.all_special_ids) | frozenset(eos_ids), eos_ids, pad_id)


def attach_adapter(loaded: LoadedModel, name: str, folder: str, version: str) -> None:
    """Load a LoRA adapter onto the resident base under ``name`` (peft), replacing an adapter
    of that name. The base's weights are untouched: requests choose an adapter or none."""
    from peft import PeftModel

    if name in "lora_":  # peft matches adapter names inside parameter names
        raise ValueError(f"adapter name {name!r} is too short: peft would confuse it with its prefix")
    model = loaded.model
    if not isinstance(model, PeftModel):
        loaded.model = PeftModel.from_pretrained(model, folder, adapter_name=name, is_trainable=False)
    else:
        if name in model.peft_config:
            model.delete_adapter(name)
        model.load_adapter(folder, adapter_name=name, is_trainable=False)
    loaded.model.eval()
    loaded.adapters[name] = (str(folder), version)


def detach_adapter(loaded: LoadedModel, name: str) -> None:
    loaded.model.delete_adapter(name)
    del loaded.adapters[name]


class _IncrementalDecoder:
    """Text of each new token, holding back pieces that end inside a multi-byte character."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix_offset = 0
        self.read_offset = 0

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        decode = self.tokenizer.decode
        prefix = decode(self.ids[self.prefix_offset : self.read_offset], skip_special_tokens=False)
        full = decode(self.ids[self.prefix_offset :], skip_special_tokens=False)
        if len(full) > len(prefix) and not full.endswith("\ufffd"):
            self.prefix_offset = self.read_offset
            self.read_offset = len(self.ids)
            return full[len(prefix) :]
        return ""


class _Run:
    """The tokens of one generation as they are made."""

    def __init__(self, loaded: LoadedModel, on_token: Callable[[TokenEvent], None] | None,
                 scores: _LastScores | None):
        self.special_ids = loaded.special_ids
        self.decoder = _IncrementalDecoder(loaded.tokenizer)
        self.on_token = on_token
        self.scores = scores
        self.tokens: list[TokenEvent] = []
        self.texts: list[str] = []  # non-special pieces, for stop sequences

    def add(self, token_id: int) -> None:
        special = token_id in self.special_ids
        piece = self.decoder.push(token_id)
        logprob = self.scores.logprob(token_id) if self.scores is not None else None
        event = TokenEvent(token_id, piece, logprob, special)
        self.tokens.append(event)
        if not special:
            self.texts.append(piece)
        if self.on_token is not None:
            self.on_token(event)


class _LastScores:
    """Keeps the step's final scores; the streamer asks for the chosen token's logprob."""

    def __init__(self):
        self.scores = None

    def __call__(self, input_ids, scores):
        self.scores = scores
        return scores

    def logprob(self, token_id: int) -> float | None:
        import torch

        if self.scores is None:
            return None
        return float(torch.log_softmax(self.scores[0].float(), dim=-1)[token_id])


@functools.cache
def _hook_types():
    """generate() hook classes, built once (transformers is imported on first use only)."""
    import torch
    from transformers import LogitsProcessor, StoppingCriteria
    from transformers.generation.streamers import BaseStreamer

    class Recorder(_LastScores, LogitsProcessor):
        pass

    class Streamer(BaseStreamer):
        def __init__(self, run: _Run):
            self.run = run
            self.prompt_seen = False

        def put(self, value):
            if not self.prompt_seen:  # generate() pushes the prompt first
                self.prompt_seen = True
                return
            for token_id in value.reshape(-1).tolist():
                self.run.add(token_id)

        def end(self):
            pass

    class Stop(StoppingCriteria):
        def __init__(self, run: _Run | None, stop: list[str], cancelled: threading.Event | None):
            self.run, self.stop, self.cancelled = run, stop, cancelled
            self.stopped = False

        def __call__(self, input_ids, scores, **kwargs):
            done = bool(self.cancelled is not None and self.cancelled.is_set())
            if self.stop and self.run is not None:
                tail = "".join(self.run.texts[-64:])
                if any(s and s in tail for s in self.stop):
                    self.stopped = done = True
            return torch.full((input_ids.shape[0],), done, dtype=torch.bool)

    return Recorder, Streamer, Stop


class Engine:
    """Holds the served model; reloads it when the source names another version."""

    def __init__(self, source: ModelSource, max_input_tokens: int = 0,
                 adapters: AdapterSource | None = None):
        self.source = source
        self.adapter_source = adapters
        self._requested_max_input = max_input_tokens
        self.loaded: LoadedModel | None = None
        self._lock = threading.Lock()  # one generation (or swap) at a time
        self._load_lock = threading.Lock()

    # -- model lifecycle --------------------------------------------------------------------
    def load(self) -> LoadedModel:
        path, version = self.source()
        with self._load_lock:
            loaded = load_model(path, version)
            with self._lock:
                self.loaded = loaded
        self.sync_adapters()
        return loaded

    def sync_adapters(self) -> list[str]:
        """Make the resident adapters match the adapter source: add new ones, swap those whose
        version moved, drop those gone; the base stays loaded. Returns the names changed."""
        if self.adapter_source is None:
            return []
        wanted = self.adapter_source()
        changed: list[str] = []
        with self._load_lock:
            loaded = self.require()
            for name, (folder, version) in wanted.items():
                if loaded.adapters.get(name) != (str(folder), version):
                    with self._lock:  # between generations, never during one
                        attach_adapter(loaded, name, folder, version)
                    changed.append(name)
            for name in [n for n in loaded.adapters if n not in wanted]:
                with self._lock:
                    detach_adapter(loaded, name)
                changed.append(name)
        return changed

    def reload_if_changed(self) -> bool:
        """Load the source's model when its version differs from the served one."""
        path, version = self.source()
        current = self.loaded
        if current is not None and (current.path, current.version) == (str(Path(path)), version):
            return False
        with self._load_lock:
            loaded = load_model(path, version)
            with self._lock:
                self.loaded = loaded
        self.sync_adapters()  # onto the new base
        return True

    def require(self) -> LoadedModel:
        if self.loaded is None:
            raise ModelNotLoaded("model not loaded yet")
        return self.loaded

    @property
    def max_total_tokens(self) -> int:
        return self.require().max_position

    @property
    def max_input_tokens(self) -> int:
        total = self.max_total_tokens
        requested = self._requested_max_input or total - 1
        return max(1, min(requested, total - 1))

    # -- generation -------------------------------------------------------------------------
    def validate(self, prompt: str, params: GenerationParams) -> list[int]:
        loaded = self.require()
        if not prompt:
            raise GenerationValidationError("`inputs` cannot be empty")
        params.check()
        if params.adapter is not None and params.adapter not in loaded.adapters:
            resident = ", ".join(sorted(loaded.adapters)) or "none"
            raise GenerationValidationError(
                f"adapter `{params.adapter}` is not loaded on this server (loaded: {resident})")
        tokenizer = loaded.tokenizer
        # A prompt rendered by a chat template already starts with BOS: do not add a second.
        bos = getattr(tokenizer, "bos_token", None)
        add_special = not (bos and prompt.startswith(bos))
        ids = tokenizer(prompt, add_special_tokens=add_special)["input_ids"]
        if params.truncate:
            ids = ids[-params.truncate :]
        if len(ids) > self.max_input_tokens:
            raise GenerationValidationError(
                f"`inputs` must have less than {self.max_input_tokens} tokens. "
                f"Given: {len(ids)}"
            )
        if len(ids) + params.max_new_tokens > self.max_total_tokens:
            raise GenerationValidationError(
                f"`inputs` tokens + `max_new_tokens` must be <= {self.max_total_tokens}. "
                f"Given: {len(ids)} `inputs` tokens and {params.max_new_tokens} `max_new_tokens`"
            )
        return ids

    def generate(
        self,
        prompt: str,
        params: GenerationParams,
        on_token: Callable[[TokenEvent], None] | None = None,
        cancelled: threading.Event | None = None,
        *,
        logprobs: bool = True,
        prefill: bool = False,
    ) -> GenerationResult:
        """Blocking; call from a worker thread. ``on_token`` sees each token as it is made.

        ``logprobs``: each token carries its logprob (TGI's details). ``prefill``: the result
        lists the prompt's tokens with their text (TGI's decoder_input_details).
        """
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        recorder_type, streamer_type, stop_type = _hook_types()
        with self._lock:
            loaded = self.require()
            tokenizer, model = loaded.tokenizer, loaded.model
            ids = self.validate(prompt, params)
            kwargs: dict[str, Any] = {"max_new_tokens": params.max_new_tokens, "do_sample": params.sampling,
                                      "pad_token_id": loaded.pad_id}
            run = None
            if on_token is not None or logprobs or params.stop:
                recorder = recorder_type() if logprobs else None
                run = _Run(loaded, on_token, recorder)
                kwargs["streamer"] = streamer_type(run)
                if recorder is not None:
                    kwargs["logits_processor"] = LogitsProcessorList([recorder])
            stop = None
            if params.stop or cancelled is not None:
                stop = stop_type(run, params.stop, cancelled)
                kwargs["stopping_criteria"] = StoppingCriteriaList([stop])
            if params.sampling:
                kwargs["temperature"] = params.temperature or 1.0
                kwargs["top_k"] = params.top_k or 0
                kwargs["top_p"] = params.top_p or 1.0
                if params.typical_p:
                    kwargs["typical_p"] = params.typical_p
            else:  # silence generation_config sampling defaults
                kwargs.update(temperature=None, top_k=None, top_p=None)
            if params.repetition_penalty:
                kwargs["repetition_penalty"] = params.repetition_penalty
            seed = params.seed
            if params.sampling:
                if seed is None:
                    seed = int(torch.seed() % (2**63))
                torch.manual_seed(seed)
            input_ids = torch.tensor([ids], dtype=torch.long)
            with torch.inference_mode(), _adapter_chosen(model, params.adapter):
                output = model.generate(
                    input_ids=input_ids, attention_mask=torch.ones_like(input_ids), **kwargs
                )
            if run is None:  # nothing watched the tokens go by: read them off the output
                run = _Run(loaded, None, None)
                for token_id in output[0, len(ids):].tolist():
                    run.add(token_id)
            generated = [t.id for t in run.tokens]
            if stop is not None and stop.stopped:
                finish = "stop_sequence"
            elif generated and generated[-1] in loaded.eos_ids:
                finish = "eos_token"
            else:
                finish = "length"
            text = tokenizer.decode(generated, skip_special_tokens=True)
            prefilled = [(i, tokenizer.decode([i])) for i in ids] if prefill else []
            return GenerationResult(text, run.tokens, finish, len(ids), prefilled, seed)

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        tokenizer = self.require().tokenizer
        if not getattr(tokenizer, "chat_template", None):
            raise GenerationValidationError("the served model has no chat template")
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def _adapter_chosen(model, adapter: str | None):
    """The request's adapter active for one generation; none of them for the base."""
    if not getattr(model, "peft_config", None):
        return contextlib.nullcontext()
    if adapter is None:
        return model.disable_adapter()
    model.set_adapter(adapter)
    return contextlib.nullcontext()


def _eos_ids(model, tokenizer) -> list[int]:
    value = getattr(model.generation_config, "eos_token_id", None)
    ids = [] if value is None else (list(value) if isinstance(value, list | tuple) else [int(value)])
    if tokenizer.eos_token_id is not None and not ids:
        ids.append(int(tokenizer.eos_token_id))
    return ids
