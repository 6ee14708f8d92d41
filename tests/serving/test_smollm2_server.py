"""The local server on the SmolLM2 twin's base: the engine applies its chat template and the
answer stops at the turn's end (``<|im_end|>``), through the openai client and TGI's stream."""

from __future__ import annotations

import httpx


def test_chat_stops_at_the_turn_end(smollm2_url):
    from openai import OpenAI

    client = OpenAI(base_url=smollm2_url + "/v1", api_key="unused", max_retries=0)
    messages = [{"role": "user", "content": "Say hello in five words."}]
    chat = client.chat.completions.create(model="tgi", messages=messages, max_tokens=64, temperature=0)
    text = chat.choices[0].message.content
    assert chat.choices[0].finish_reason == "stop" and chat.usage.completion_tokens < 64, text
    assert text.strip() and "<|im_end|>" not in text and "<|im_start|>" not in text
    pieces = list(client.chat.completions.create(model="tgi", messages=messages, max_tokens=64,
                                                 temperature=0, stream=True))
    assert "".join(p.choices[0].delta.content or "" for p in pieces) == text
    assert pieces[-1].choices[0].finish_reason == "stop"


def test_generate_marks_the_turn_end_as_eos(smollm2_url, smollm2_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Say hello."}], tokenize=False,
                                           add_generation_prompt=True)
    reply = httpx.post(smollm2_url + "/generate", timeout=120, json={
        "inputs": prompt, "parameters": {"max_new_tokens": 64, "details": True, "decoder_input_details": True}})
    details = reply.json()["details"]
    assert details["finish_reason"] == "eos_token"
    assert details["tokens"][-1]["special"] and details["tokens"][-1]["text"] == "<|im_end|>"
    assert details["prefill"][0]["text"] == "<|im_start|>"
    assert details["prefill"][1]["text"] != "<|im_start|>"  # the template's BOS, not a second one
