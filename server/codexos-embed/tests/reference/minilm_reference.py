# An independent numpy implementation of all-MiniLM-L6-v2 (BERT uncased tokenizer, encoder, mean
# pooling, L2 norm) read straight from the model files. It made the reference values in
# tests/minilm.rs, so the candle embedder is checked against code that shares nothing with it:
#   python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy
#   /tmp/venv/bin/python minilm_reference.py MODELS_DIR/all-MiniLM-L6-v2 "a cat sits on the mat"
import json, struct, sys, unicodedata
import numpy as np
d = sys.argv[1]
raw = open(f"{d}/model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8+n]); base = 8 + n
W = {}
for k, v in hdr.items():
    if k == "__metadata__": continue
    s, e = v["data_offsets"]
    if v["dtype"] != "F32": continue
    W[k] = np.frombuffer(raw[base+s:base+e], dtype=np.float32).reshape(v["shape"]).astype(np.float64)
pre = "" if "embeddings.word_embeddings.weight" in W else "bert."
vocab = {t.rstrip("\n"): i for i, t in enumerate(open(f"{d}/vocab.txt", encoding="utf-8"))}
def basic(text):
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    out, cur = [], ""
    for c in text:
        if c.isspace():
            if cur: out.append(cur); cur = ""
        elif unicodedata.category(c).startswith("P") or (33 <= ord(c) <= 47) or (58 <= ord(c) <= 64) or (91 <= ord(c) <= 96) or (123 <= ord(c) <= 126):
            if cur: out.append(cur); cur = ""
            out.append(c)
        else: cur += c
    if cur: out.append(cur)
    return out
def wordpiece(w):
    ids, s = [], 0
    while s < len(w):
        e = len(w); found = None
        while s < e:
            sub = w[s:e] if s == 0 else "##" + w[s:e]
            if sub in vocab: found = vocab[sub]; break
            e -= 1
        if found is None: return [vocab["[UNK]"]]
        ids.append(found); s = e
    return ids
def ln(x, g, b, eps=1e-12):
    m = x.mean(-1, keepdims=True); v = ((x-m)**2).mean(-1, keepdims=True)
    return (x-m)/np.sqrt(v+eps)*g + b
def gelu(x):
    from math import erf
    return 0.5*x*(1+np.vectorize(erf)(x/np.sqrt(2)))
def embed(text):
    ids = [vocab["[CLS]"]] + [i for w in basic(text) for i in wordpiece(w)] + [vocab["[SEP]"]]
    L = len(ids)
    g = lambda k: W[pre + k]
    x = g("embeddings.word_embeddings.weight")[ids] + g("embeddings.position_embeddings.weight")[:L] + g("embeddings.token_type_embeddings.weight")[0]
    x = ln(x, g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"))
    H = 12; dh = x.shape[1] // H
    for l in range(6):
        p = f"encoder.layer.{l}."
        lin = lambda y, k: y @ g(p+k+".weight").T + g(p+k+".bias")
        q, k, v = lin(x, "attention.self.query"), lin(x, "attention.self.key"), lin(x, "attention.self.value")
        q = q.reshape(L, H, dh).transpose(1, 0, 2); k = k.reshape(L, H, dh).transpose(1, 0, 2); v = v.reshape(L, H, dh).transpose(1, 0, 2)
        a = q @ k.transpose(0, 2, 1) / np.sqrt(dh); a = np.exp(a - a.max(-1, keepdims=True)); a /= a.sum(-1, keepdims=True)
        c = (a @ v).transpose(1, 0, 2).reshape(L, -1)
        x = ln(lin(c, "attention.output.dense") + x, g(p+"attention.output.LayerNorm.weight"), g(p+"attention.output.LayerNorm.bias"))
        h = gelu(lin(x, "intermediate.dense"))
        x = ln(lin(h, "output.dense") + x, g(p+"output.LayerNorm.weight"), g(p+"output.LayerNorm.bias"))
    e = x.mean(0); return ids, e / np.linalg.norm(e)
for t in sys.argv[2:]:
    ids, e = embed(t)
    print(repr(t), ids)
    print("  first8", [round(float(v), 6) for v in e[:8]])
    print("  sum", round(float(e.sum()), 6), "dot_with_index_weights", round(float((e*np.arange(len(e))).sum()), 6))
