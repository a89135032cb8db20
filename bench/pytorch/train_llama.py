"""The tutorial's Llama model and training step in plain PyTorch, for `bench train`'s per-process comparison.

Runs on Debian's python3-torch (1.13, CPU), which has neither nn.RMSNorm nor scaled_dot_product_attention: both are
written out below as the tutorial's model uses them. Prints one line: "tok/s <value>". With --lockstep it prints "ready"
after the warm-up steps, then runs one step for each line "step" on stdin and prints "seconds <value>" for it, until "quit"
or the end of stdin: `bench train` alternates these steps with SharpLM's, one by one.

Usage: python3 train_llama.py --hidden 384 --intermediate 1024 --layers 6 --heads 6 --kv-heads 2 --vocab 8192
       --batch 8 --seq 256 --steps 8 --threads 2 --precision fp32|bf16 [--lockstep]
"""
import argparse
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, size, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(size))

    def forward(self, x):
        variance = x.float().pow(2).mean(-1, keepdim=True)
        return self.weight * (x.float() * torch.rsqrt(variance + self.eps)).to(x.dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_tables(seq, head_dim, base=10000.0):
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2).float() / head_dim))
    angles = torch.outer(torch.arange(seq).float(), inv_freq)
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos(), angles.sin()


def causal_attention(q, k, v):
    """scaled_dot_product_attention(q, k, v, is_causal=True), which PyTorch 1.13 lacks."""
    seq = q.shape[-2]
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    mask = torch.ones(seq, seq, dtype=torch.bool).triu(1)
    scores = scores.masked_fill(mask, float("-inf"))
    return F.softmax(scores.float(), dim=-1).to(q.dtype) @ v


class Attention(nn.Module):
    def __init__(self, hidden, heads, kv_heads):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, hidden // heads
        self.q_proj = nn.Linear(hidden, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, hidden, bias=False)

    def forward(self, x, cos, sin):
        batch, seq, _ = x.shape
        q = self.q_proj(x).view(batch, seq, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        groups = self.heads // self.kv_heads
        k = k.repeat_interleave(groups, dim=1)
        v = v.repeat_interleave(groups, dim=1)
        out = causal_attention(q, k, v).transpose(1, 2).reshape(batch, seq, -1)
        return self.o_proj(out)


class MLP(nn.Module):
    def __init__(self, hidden, intermediate):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, intermediate, bias=False)
        self.up_proj = nn.Linear(hidden, intermediate, bias=False)
        self.down_proj = nn.Linear(intermediate, hidden, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, hidden, intermediate, heads, kv_heads):
        super().__init__()
        self.input_layernorm = RMSNorm(hidden)
        self.self_attn = Attention(hidden, heads, kv_heads)
        self.post_attention_layernorm = RMSNorm(hidden)
        self.mlp = MLP(hidden, intermediate)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    def __init__(self, vocab, hidden, intermediate, layers, heads, kv_heads):
        super().__init__()
        self.head_dim = hidden // heads
        self.embed_tokens = nn.Embedding(vocab, hidden)
        self.layers = nn.ModuleList(DecoderLayer(hidden, intermediate, heads, kv_heads) for _ in range(layers))
        self.norm = RMSNorm(hidden)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)

    def forward(self, ids):
        cos, sin = rope_tables(ids.shape[1], self.head_dim)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.norm(x))


def main():
    p = argparse.ArgumentParser()
    for name, default in [("hidden", 384), ("intermediate", 1024), ("layers", 6), ("heads", 6), ("kv-heads", 2),
                          ("vocab", 8192), ("batch", 8), ("seq", 256), ("steps", 8), ("warmup", 3), ("threads", 2)]:
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--lockstep", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = Llama(a.vocab, a.hidden, a.intermediate, a.layers, a.heads, a.kv_heads)
    # The tutorial's optimiser: AdamW lr 1e-3, betas (0.9, 0.99), eps 1e-8, weight decay 0.1; gradients clipped to 1.
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    ids = torch.randint(4, a.vocab, (a.batch, a.seq + 1))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.float().view(-1, a.vocab), ids[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    for _ in range(a.warmup):
        step()  # allocations, first-call overheads
    if a.lockstep:
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() != "step":
                break
            start = time.perf_counter()
            step()
            print(f"seconds {time.perf_counter() - start:.6f}", flush=True)
        return
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    print(f"tok/s {a.batch * a.seq * a.steps / (time.perf_counter() - start):.1f}")


if __name__ == "__main__":
    main()
