#!/usr/bin/env python3
"""Golden fixtures for crates/models from the reference implementation (diffusers + PyTorch).

Writes small safetensors/JSON files to tests/golden/ (committed): a tiny seeded
UNet2DConditionModel with 8 input channels, the same UNet with the authors' reward modules
(written here in plain torch from ../shared/docs/official-checkpoint.md), and scheduler traces.
Run by hand; see scripts/README.md.
"""
import json
import sys
import math
import os
from pathlib import Path

import torch
from torch import nn
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    StableDiffusionInstructPix2PixPipeline,
    UNet2DConditionModel,
)
from diffusers.models.embeddings import TimestepEmbedding, get_timestep_embedding
from safetensors.torch import load_file, save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode

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
    # Pixel-space editors clamp the predicted clean image (random outputs make the clamp bite).
    trace("ddim_clip", DDIMScheduler(**SCHEDULE, clip_sample=True, set_alpha_to_one=False), 10, shape, out, 8, eta=0.0)
    # v-prediction (the world editors): the model output is v, converted at each step.
    trace("euler_a_v", EulerAncestralDiscreteScheduler(**SCHEDULE, prediction_type="v_prediction"), 10, shape, out, 9)
    trace("ddim_clip_v", DDIMScheduler(**SCHEDULE, clip_sample=True, set_alpha_to_one=False, prediction_type="v_prediction"), 10, shape, out, 10, eta=0.0)
    trace("dpmpp_2m_v", DPMSolverMultistepScheduler(**SCHEDULE, algorithm_type="dpmsolver++", solver_order=2, prediction_type="v_prediction"), 10, shape, out, 11)
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



# --- VAE, CLIP text encoder, tokenizer and a whole InstructPix2Pix folder ---------------------

IP2P = OUT / "ip2p_tiny"

VAE_CONFIG = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 2,
    up_block_types=("UpDecoderBlock2D",) * 2,
    block_out_channels=(8, 16),
    layers_per_block=1,
    latent_channels=4,
    norm_num_groups=4,
    sample_size=32,
)

# SD 1.5's text_encoder/config.json in miniature: quick_gelu, legacy eos_token_id = 2 (pooling at
# the argmax of the ids), 77 positions. The vocabulary is the tiny BPE below.
CLIP_CONFIG = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=77,
    hidden_act="quick_gelu",
    layer_norm_eps=1e-5,
    bos_token_id=0,
    eos_token_id=2,
    pad_token_id=1,
)

BPE_CORPUS = """
make the sky blue turn the cat into a dog add fireworks over the city at night remove the
person on the left replace the apple with an orange make it look like a painting by van gogh
change the season to winter with snow on the trees put a hat on the man give her sunglasses
make the car red add a rainbow behind the mountains turn day into night make the water clear
add a boat on the lake make the house wooden change the background to a beach at sunset
make the flowers yellow add clouds to the sky remove the text from the sign make the dog smile
turn the photo black and white add a reflection in the window make the grass green and tall
put the bird on the branch make the room brighter add candles on the table make it rain
replace the road with a river make the statue golden add stars to the night sky zoom out
make the picture look older give the cat a red collar add a second moon paint the wall blue
"""
BPE_MERGES = 486  # at most: 256 bytes + 256 bytes</w> + merges + 2 specials <= 1000 tokens


def train_bpe(corpus, n_merges):
    """Plain BPE on words that end in `</w>` (as CLIP's vocabulary); ties go to the pair seen
    first in sorted order, so the result is deterministic."""
    b2u = bytes_to_unicode()
    words = {}
    for w in corpus.lower().split():
        chars = [b2u[b] for b in w.encode("utf-8")]
        key = tuple(chars[:-1] + [chars[-1] + "</w>"])
        words[key] = words.get(key, 0) + 1
    merges = []
    while len(merges) < n_merges:
        pairs = {}
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + n
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        merged = {}
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1]); i += 2
                else:
                    out.append(w[i]); i += 1
            merged[tuple(out)] = n
        words = merged
    vocab = list(b2u.values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(vocab)}, merges


TOKENIZER_SENTENCES = [
    "make the sky blue",
    "Turn the CAT into a dog, please!",
    "  add fireworks\tover the city\n\nat night...  ",
    "it's the dog's bone; they'll love it (2024 edition)",
    "café crème brûlée",
    "",
    "make the " + "very " * 80 + "big house",  # more than 77 tokens: truncated
]


def make_tokenizer(folder):
    vocab, merges = train_bpe(BPE_CORPUS, BPE_MERGES)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n")
    tok = CLIPTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"), model_max_length=77)
    tok.save_pretrained(str(folder))
    # save_pretrained also writes tokenizer.json; SD 1.5 ships only vocab.json + merges.txt, which
    # is what the Rust loader must handle: keep the folder in that layout.
    # The fast tokenizer's own file is kept beside, to test the tokenizer.json path.
    (folder / "tokenizer.json").replace(OUT / "clip_tiny_tokenizer.json")
    tok = CLIPTokenizer.from_pretrained(str(folder))
    # SD 1.5 also ships special_tokens_map.json (transformers 5 no longer writes it).
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=1))
    n = len(vocab)
    assert n == 512 + len(merges) + 2 and tok.model_max_length == 77
    assert tok.bos_token_id == n - 2 and tok.eos_token_id == n - 1 and tok.pad_token_id == n - 1
    return tok


def make_vae():
    torch.manual_seed(2)
    vae = AutoencoderKL(**VAE_CONFIG).eval()
    perturb(vae)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    noise = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        dist = vae.encode(x).latent_dist
        sample = dist.mean + dist.std * noise
        decoded = vae.decode(dist.mode()).sample
    assert dist.logvar.abs().max() < 20
    save(dict(x=x, mean=dist.mean, logvar=dist.logvar, noise=noise, sample=sample, decoded=decoded),
         "vae_tiny_io.safetensors")
    # fp16 weights (as many published VAEs) with the output of the fp16-rounded model.
    with torch.no_grad():
        half = AutoencoderKL(**VAE_CONFIG).eval()
        half.load_state_dict({k: v.half().float() for k, v in vae.state_dict().items()})
        decoded_fp16 = half.decode(half.encode(x).latent_dist.mode()).sample
    save(vae.state_dict(), "vae_tiny_fp16.safetensors", torch.float16)
    save(dict(x=x, decoded=decoded_fp16), "vae_tiny_fp16_io.safetensors")
    return vae


def make_clip(tok):
    torch.manual_seed(3)
    clip = CLIPTextModel(CLIPTextConfig(vocab_size=len(tok.get_vocab()), **CLIP_CONFIG)).eval()
    perturb(clip)
    enc = tok(TOKENIZER_SENTENCES, padding="max_length", max_length=tok.model_max_length, truncation=True,
              return_tensors="pt")
    ids = enc.input_ids
    lengths = enc.attention_mask.sum(1)
    assert ids.shape == (len(TOKENIZER_SENTENCES), 77) and lengths[-1] == 77 and lengths[5] == 2
    with torch.no_grad():
        out = clip(ids)
    assert torch.equal(out.pooler_output, out.last_hidden_state[torch.arange(len(ids)), lengths - 1])
    save(dict(ids=ids.double(), lengths=lengths.double(), hidden=out.last_hidden_state, pooled=out.pooler_output),
         "clip_tiny_io.safetensors")
    (OUT / "clip_tiny_sentences.json").write_text(json.dumps(TOKENIZER_SENTENCES, indent=1, ensure_ascii=False))
    with torch.no_grad():
        half = CLIPTextModel(clip.config).eval()
        half.load_state_dict({k: v.half().float() for k, v in clip.state_dict().items()})
        out_fp16 = half(ids[:2])
    save({f"text_model.{k}": v for k, v in clip.state_dict().items()}, "clip_tiny_fp16.safetensors", torch.float16)
    save(dict(ids=ids[:2].double(), hidden=out_fp16.last_hidden_state, pooled=out_fp16.pooler_output),
         "clip_tiny_fp16_io.safetensors")
    return clip


def save_text_encoder(clip, folder):
    """As SD 1.5's text_encoder/: config.json + model.safetensors with the `text_model.` prefix
    (transformers 5 writes the keys without it; both are read by transformers and by us)."""
    folder.mkdir(parents=True, exist_ok=True)
    clip.config.save_pretrained(str(folder))
    save_file({f"text_model.{k}": v.contiguous() for k, v in clip.state_dict().items()}, str(folder / "model.safetensors"))
    again = CLIPTextModel.from_pretrained(str(folder)).eval()
    ids = torch.tensor([[clip.config.vocab_size - 2, 5, clip.config.vocab_size - 1]])
    with torch.no_grad():
        assert torch.allclose(again(ids).last_hidden_state, clip(ids).last_hidden_state)


def make_ip2p_folder():
    """tests/golden/ip2p_tiny/: unet (the tiny UNet, 8 input channels), vae, text_encoder,
    tokenizer, scheduler (Euler-Ancestral, as the paper samples) — and ip2p_edit.safetensors: one
    whole deterministic edit with StableDiffusionInstructPix2PixPipeline (DDIM, eta 0, 3 steps)."""
    tok = make_tokenizer(IP2P / "tokenizer")
    vae = make_vae()
    clip = make_clip(tok)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**UNET_CONFIG).eval()
    perturb(unet)
    assert torch.equal(unet.conv_in.weight, load_file(str(OUT / "unet_tiny.safetensors"))["conv_in.weight"])
    unet.save_pretrained(str(IP2P / "unet"))
    vae.save_pretrained(str(IP2P / "vae"))
    save_text_encoder(clip, IP2P / "text_encoder")
    EulerAncestralDiscreteScheduler(**SCHEDULE).save_pretrained(str(IP2P / "scheduler"))
    (IP2P / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionInstructPix2PixPipeline", "_diffusers_version": "0.42.1",
        "feature_extractor": [None, None], "requires_safety_checker": False, "safety_checker": [None, None],
        "scheduler": ["diffusers", "EulerAncestralDiscreteScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"]}, indent=1))
    for sub in ["unet", "vae", "text_encoder", "tokenizer", "scheduler"]:
        for f in (IP2P / sub).iterdir():
            assert f.stat().st_size < MAX_BYTES, f

    ddim = DDIMScheduler(**SCHEDULE, clip_sample=False, set_alpha_to_one=False)
    (OUT / "ip2p_edit_scheduler.json").write_text(json.dumps({k: v for k, v in dict(ddim.config).items() if k != "_use_default_values"}, indent=1, sort_keys=True, default=list))
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=vae, text_encoder=clip, tokenizer=tok, unet=unet, scheduler=ddim,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    g = torch.Generator().manual_seed(12)
    image = torch.rand(1, 3, 32, 32, generator=g)          # [0, 1]; the pipeline maps it to [-1, 1]
    latents = torch.randn(1, 4, 16, 16, generator=g)
    prompt = "Turn the cat into a dog!"
    unet_outputs, step_latents = [], []
    hook = unet.register_forward_hook(lambda m, i, o: unet_outputs.append(o[0].detach().clone()))

    def on_step(p, i, t, kw):
        step_latents.append(kw["latents"].detach().clone())
        return {}

    with torch.no_grad():
        out = pipe(prompt, image=image, latents=latents.clone(), num_inference_steps=3, guidance_scale=7.5,
                   image_guidance_scale=1.5, output_type="pt", eta=0.0, callback_on_step_end=on_step).images
        image_latents = vae.encode(image * 2 - 1).latent_dist.mode()
        decoded = vae.decode(step_latents[-1] / vae.config.scaling_factor).sample
    hook.remove()
    assert torch.allclose(out, (decoded / 2 + 0.5).clamp(0, 1), atol=1e-6)
    ids = lambda text: tok(text, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    ddim.set_timesteps(3)
    save(dict(
        image=image, prompt_ids=ids(prompt).double(), negative_prompt_ids=ids("").double(),
        initial_latents=latents, image_latents=image_latents, timesteps=ddim.timesteps.double(),
        unet_outputs=torch.stack(unet_outputs), step_latents=torch.stack(step_latents), decoded=decoded, output=out,
        guidance_scale=torch.tensor([7.5]), image_guidance_scale=torch.tensor([1.5]),
        scaling_factor=torch.tensor([vae.config.scaling_factor]),
    ), "ip2p_edit.safetensors")

if __name__ == "__main__":
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    if sys.argv[1:] == ["schedulers"]:  # only the scheduler traces
        make_schedulers()
        sys.exit(0)
    make_unets()
    make_deep_unet()
    make_sd15_layout()
    make_schedulers()
    make_ip2p_folder()
