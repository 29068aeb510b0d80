"""Drives clerk's /v1/chat/completions with the official `openai` Python client, unchanged.

Usage: python3 openai_chat.py BASE_URL API_KEY BUSINESS
Prints one JSON object with what the client saw; exits non-zero on any mismatch.
"""
import json
import sys

import openai

base, key, business = sys.argv[1], sys.argv[2], sys.argv[3]
client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)

plain = client.chat.completions.create(
    model=business,
    messages=[{"role": "user", "content": "What are your opening hours?"}],
)
text = plain.choices[0].message.content
extra = plain.model_extra or {}
assert plain.object == "chat.completion", plain.object
assert text, "empty reply"
assert extra.get("sources"), f"no sources in {extra}"

chunks = client.chat.completions.create(
    model=business,
    messages=[{"role": "user", "content": "What are your opening hours?"}],
    stream=True,
)
streamed, finish, sources = "", None, None
for chunk in chunks:
    choice = chunk.choices[0]
    streamed += choice.delta.content or ""
    finish = choice.finish_reason or finish
    sources = (chunk.model_extra or {}).get("sources") or sources
assert streamed == text, (streamed, text)
assert finish == "stop", finish
assert sources, "no sources in the stream"

try:
    client.chat.completions.create(
        model="no-such-business",
        messages=[{"role": "user", "content": "hello"}],
    )
    raise AssertionError("an unknown business was answered")
except openai.APIStatusError as e:
    refused = e.status_code

models = [m.id for m in client.models.list()]
print(json.dumps({"text": text, "streamed": streamed, "sources": len(sources),
                  "refused": refused, "models": models}))
