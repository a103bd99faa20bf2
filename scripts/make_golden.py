#!/usr/bin/env python3
"""Golden fixtures for crates/models from the reference implementation (diffusers + PyTorch).

Writes small safetensors/JSON files to tests/golden/ (committed): a tiny seeded
UNet2DConditionModel with 8 input channels, the same UNet with the authors' reward modules
(written here in plain torch from ../shared/docs/official-checkpoint.md), and scheduler traces.
Run by hand; see scripts/README.md.
"""
import json
import math
import os
from pathlib import Path

import torch
from torch import nn
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    UNet2DConditionModel,
)
from diffusers.models.embeddings import TimestepEmbedding, get_timestep_embedding
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parent.parent / "tests" / "golden"
MAX_BYTES = 1 << 20

UNET_CONFIG = dict(
    sample_size=16,
    in_channels=8,
    out_channels=4,
    block_out_channels=(16, 32),
    layers_per_block=1,
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=32,
    attention_head_dim=8,
    norm_num_groups=8,
)

# Deeper but narrower: three blocks, two ResNets per block, two transformer blocks per
# Transformer2DModel, a list of heads (the skip bookkeeping of SD 1.5's shape, in miniature).
DEEP_UNET_CONFIG = dict(
    sample_size=16,
    in_channels=8,
    out_channels=4,
    block_out_channels=(8, 16, 16),
    layers_per_block=2,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=12,
    attention_head_dim=(2, 4, 4),
    transformer_layers_per_block=2,
    norm_num_groups=4,
)

SCHEDULE = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    steps_offset=1,
)


def save(tensors, name, dtype=torch.float32):
    path = OUT / name
    save_file({k: v.detach().contiguous().to(dtype) for k, v in tensors.items()}, str(path))
    size = path.stat().st_size
    assert size < MAX_BYTES, f"{name} is {size} bytes"
    print(f"{name}: {len(tensors)} tensors, {size} bytes")


def perturb(module, scale=0.05):
    """Moves every parameter off its default (norm gammas of 1, betas of 0, zero biases) so a
    mis-mapped tensor shows in the output."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn_like(p))


# --- the authors' reward modules, from official-checkpoint.md (plain torch) -------------------

class ProjDeal(nn.Module):
    def __init__(self, width, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, width, eps=1e-6)
        self.proj_in = nn.Conv2d(width, width, 1)
        self.proj_out = nn.Conv2d(width, width, 1)


class Dense(nn.Module):
    def __init__(self, width, layer_norm):
        super().__init__()
        self.dense = nn.Linear(width, width)
        if layer_norm:
            self.LayerNorm = nn.LayerNorm(width, eps=1e-12)


class QKV(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)


class CrossAttention(nn.Module):
    def __init__(self, width):
        super().__init__()
        setattr(self, "self", QKV(width))
        self.output = Dense(width, True)


class CrossLayer(nn.Module):
    """One BERT-style cross-attention layer: 8 heads, post-LayerNorm residuals, erf GELU."""

    def __init__(self, width, heads=8):
        super().__init__()
        self.heads = heads
        self.attention = CrossAttention(width)
        self.hidden_intermediate = Dense(width, False)
        self.output = Dense(width, True)

    def forward(self, x, kv):
        qkv = getattr(self.attention, "self")
        b, n, w = x.shape
        split = lambda t: t.reshape(b, t.shape[1], self.heads, w // self.heads).transpose(1, 2)
        q, k, v = split(qkv.query(x)), split(qkv.key(kv)), split(qkv.value(kv))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(w // self.heads), dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(b, n, w)
        out = self.attention.output
        a = out.LayerNorm(out.dense(ctx) + x)
        h = torch.nn.functional.gelu(self.hidden_intermediate.dense(a))
        return self.output.LayerNorm(self.output.dense(h) + a)


def attach_reward_modules(unet):
    cfg = unet.config
    width = cfg.block_out_channels[0]
    temb = width * 4
    text = cfg.cross_attention_dim
    unet.add_embedding = TimestepEmbedding(3 * 256, temb)
    unet.add_embedding2 = TimestepEmbedding(3 * 256, width)
    unet.text_linear2 = nn.Linear(text, temb)
    unet.text_linear = nn.Linear(text, width)
    unet.proj_deal = ProjDeal(width, cfg.norm_num_groups)
    unet.ca = CrossLayer(width)


def unet_forward(unet, sample, t, ehs, reward=None):
    """diffusers' UNet2DConditionModel.forward for this config, with the reward steps of
    official-checkpoint.md ("Forward order") when `reward = (scores, pooled)` is given."""
    cfg = unet.config
    emb = unet.time_embedding(unet.time_proj(t).to(sample.dtype))
    if reward is not None:
        scores, pooled = reward
        b = scores.shape[0]
        r = get_timestep_embedding(scores.flatten(), 256, flip_sin_to_cos=cfg.flip_sin_to_cos,
                                   downscale_freq_shift=cfg.freq_shift).reshape(b, -1)
        emb = emb + unet.add_embedding(r) + unet.text_linear2(pooled)
    h = unet.conv_in(sample)
    if reward is not None:
        d = unet.proj_deal
        b, c, hh, ww = h.shape
        tok = d.proj_in(d.norm(h)).permute(0, 2, 3, 1).reshape(b, hh * ww, c)
        kv = torch.stack([unet.add_embedding2(r), unet.text_linear(pooled)], dim=1)
        tok = unet.ca(tok, kv)
        h = d.proj_out(tok.reshape(b, hh, ww, c).permute(0, 3, 1, 2)) + h
    res = (h,)
    for blk in unet.down_blocks:
        if getattr(blk, "has_cross_attention", False):
            h, r_ = blk(hidden_states=h, temb=emb, encoder_hidden_states=ehs)
        else:
            h, r_ = blk(hidden_states=h, temb=emb)
        res += r_
    h = unet.mid_block(h, emb, encoder_hidden_states=ehs)
    for blk in unet.up_blocks:
        skips, res = res[-len(blk.resnets):], res[: -len(blk.resnets)]
        if getattr(blk, "has_cross_attention", False):
            h = blk(hidden_states=h, temb=emb, res_hidden_states_tuple=skips, encoder_hidden_states=ehs)
        else:
            h = blk(hidden_states=h, temb=emb, res_hidden_states_tuple=skips)
    return unet.conv_out(unet.conv_act(unet.conv_norm_out(h)))


def make_deep_unet():
    torch.manual_seed(1)
    unet = UNet2DConditionModel(**DEEP_UNET_CONFIG).eval()
    perturb(unet)
    config = {k: v for k, v in dict(unet.config).items() if k != "_use_default_values"}
    (OUT / "unet_deep_config.json").write_text(json.dumps(config, indent=1, sort_keys=True, default=list))
    sample = torch.randn(2, 8, 16, 16)
    timestep = torch.tensor([500.0, 3.0])
    ehs = torch.randn(2, 5, DEEP_UNET_CONFIG["cross_attention_dim"])
    with torch.no_grad():
        out = unet(sample, timestep, ehs).sample
    save(unet.state_dict(), "unet_deep.safetensors")
    save(dict(sample=sample, timestep=timestep, encoder_hidden_states=ehs, output=out), "unet_deep_io.safetensors")


def make_unets():
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**UNET_CONFIG).eval()
    perturb(unet)
    config = {k: v for k, v in dict(unet.config).items() if k != "_use_default_values"}  # a set: unordered
    (OUT / "unet_tiny_config.json").write_text(json.dumps(config, indent=1, sort_keys=True, default=list))

    b = 2
    sample = torch.randn(b, 8, 16, 16)
    timestep = torch.tensor([999.0, 37.5])
    ehs = torch.randn(b, 7, UNET_CONFIG["cross_attention_dim"])
    with torch.no_grad():
        out = unet(sample, timestep, ehs).sample
        mine = unet_forward(unet, sample, timestep, ehs)
    assert torch.allclose(out, mine, atol=1e-6), "the script's forward must match diffusers'"
    save(unet.state_dict(), "unet_tiny.safetensors")
    save(dict(sample=sample, timestep=timestep, encoder_hidden_states=ehs, output=out), "unet_tiny_io.safetensors")
    # Odd sizes: diffusers then upsamples to the skip's size instead of by 2.
    odd = torch.randn(1, 8, 15, 13, generator=torch.Generator().manual_seed(11))  # leaves the global RNG alone
    with torch.no_grad():
        out_odd = unet(odd, timestep[:1], ehs[:1]).sample
    save(dict(sample=odd, timestep=timestep[:1], encoder_hidden_states=ehs[:1], output=out_odd), "unet_tiny_odd_io.safetensors")

    attach_reward_modules(unet)
    perturb(unet.ca)  # LayerNorm gammas/betas off their defaults too
    for name in ["add_embedding", "add_embedding2", "text_linear", "text_linear2", "proj_deal"]:
        perturb(getattr(unet, name))
    # Stored as fp16 to stay small (and to exercise fp16 loading): compute with rounded weights.
    with torch.no_grad():
        for p in unet.parameters():
            p.copy_(p.half().float())
    scores = torch.tensor([[5.0, 5.0, 5.0], [1.5, 3.0, 0.0]])
    pooled = torch.randn(b, UNET_CONFIG["cross_attention_dim"])
    with torch.no_grad():
        out_r = unet_forward(unet, sample, timestep, ehs, (scores, pooled))
    assert (out_r - out).abs().max() > 1e-3, "rewards must change the output"
    save(unet.state_dict(), "reward_unet_tiny.safetensors", torch.float16)
    save(dict(sample=sample, timestep=timestep, encoder_hidden_states=ehs, scores=scores,
              pooled_text=pooled, output=out_r), "reward_unet_tiny_io.safetensors")


# timbrooks/instruct-pix2pix unet/config.json (SD 1.5 with 8 input channels).
SD15_IP2P_CONFIG = dict(
    in_channels=8, out_channels=4, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32, sample_size=32,
)


def make_sd15_layout():
    """Names and shapes (no weights) of the full-size reward UNet: SD 1.5 InstructPix2Pix plus
    the modules of official-checkpoint.md, whose table this must reproduce."""
    with torch.device("meta"):
        unet = UNet2DConditionModel(**SD15_IP2P_CONFIG)
        attach_reward_modules(unet)
    layout = {k: list(v.shape) for k, v in unet.state_dict().items()}
    assert layout["add_embedding.linear_1.weight"] == [1280, 768]
    assert layout["add_embedding2.linear_2.weight"] == [320, 320]
    assert layout["text_linear2.weight"] == [1280, 768] and layout["text_linear.weight"] == [320, 768]
    assert layout["proj_deal.proj_in.weight"] == [320, 320, 1, 1]
    assert layout["ca.attention.self.query.weight"] == [320, 320]
    (OUT / "sd15_reward_unet_layout.json").write_text(json.dumps(layout, indent=0, sort_keys=True))
    print(f"sd15_reward_unet_layout.json: {len(layout)} tensors")


def trace(name, sched, steps, shape, out, seed, eta=None):
    """Runs `steps` steps with fixed model outputs and fixed per-step noise."""
    sched.set_timesteps(steps)
    g = torch.Generator().manual_seed(seed)
    sample = torch.randn(shape, generator=g) * float(sched.init_noise_sigma)
    out[f"{name}.timesteps"] = sched.timesteps.double()
    if hasattr(sched, "sigmas"):
        out[f"{name}.sigmas"] = torch.as_tensor(sched.sigmas).double()
    out[f"{name}.init_noise_sigma"] = torch.tensor([float(sched.init_noise_sigma)])
    out[f"{name}.sample"] = sample
    eps_all, noise_all, scaled_all, prev_all = [], [], [], []
    for i, t in enumerate(sched.timesteps):
        eps = torch.randn(shape, generator=g)
        noise_seed = seed * 1000 + i
        noise = torch.randn(shape, generator=torch.Generator().manual_seed(noise_seed))
        scaled = sched.scale_model_input(sample, t)
        if isinstance(sched, DDIMScheduler):
            prev = sched.step(eps, t, sample, eta=eta, variance_noise=noise).prev_sample
        else:
            prev = sched.step(eps, t, sample, generator=torch.Generator().manual_seed(noise_seed)).prev_sample
        eps_all.append(eps); noise_all.append(noise); scaled_all.append(scaled); prev_all.append(prev)
        sample = prev
    out[f"{name}.model_output"] = torch.stack(eps_all)
    out[f"{name}.noise"] = torch.stack(noise_all)
    out[f"{name}.scaled"] = torch.stack(scaled_all)
    out[f"{name}.prev"] = torch.stack(prev_all)


def make_schedulers():
    shape = (1, 4, 4, 4)
    out = {}
    trace("euler_a", EulerAncestralDiscreteScheduler(**SCHEDULE), 10, shape, out, 1)
    trace("euler_a_leading", EulerAncestralDiscreteScheduler(**SCHEDULE, timestep_spacing="leading"), 7, shape, out, 2)
    trace("ddim", DDIMScheduler(**SCHEDULE, clip_sample=False, set_alpha_to_one=False), 10, shape, out, 3, eta=0.0)
    trace("ddim_eta1", DDIMScheduler(**SCHEDULE, clip_sample=False, set_alpha_to_one=False), 8, shape, out, 4, eta=1.0)
    trace("dpmpp_2m", DPMSolverMultistepScheduler(**SCHEDULE, algorithm_type="dpmsolver++", solver_order=2), 10, shape, out, 5)
    trace("dpmpp_2m_30", DPMSolverMultistepScheduler(**SCHEDULE, algorithm_type="dpmsolver++", solver_order=2), 30, shape, out, 6)

    ddpm = DDPMScheduler(**SCHEDULE)
    g = torch.Generator().manual_seed(7)
    x0, noise = torch.randn((3,) + shape[1:], generator=g), torch.randn((3,) + shape[1:], generator=g)
    t = torch.tensor([0, 500, 999])
    out["ddpm.alphas_cumprod"] = ddpm.alphas_cumprod.double()
    out["ddpm.original"], out["ddpm.noise"], out["ddpm.timesteps"] = x0, noise, t.double()
    out["ddpm.noisy"] = ddpm.add_noise(x0, noise, t)
    path = OUT / "schedulers.safetensors"
    save_file({k: v.contiguous() for k, v in out.items()}, str(path))
    print(f"schedulers.safetensors: {len(out)} tensors, {path.stat().st_size} bytes")


if __name__ == "__main__":
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    make_unets()
    make_deep_unet()
    make_sd15_layout()
    make_schedulers()
