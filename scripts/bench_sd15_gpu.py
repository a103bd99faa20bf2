"""The PyTorch/diffusers side of the SD 1.5-size GPU comparison (issues 3 and 4), with random
weights built from configs (nothing to download), on the card the Rust side runs on, in the same
device call (scripts/gpu-bench.sh runs both):

  unet   UNet2DConditionModel (InstructPix2Pix: 8 input channels), batch 3 (the guidance branches),
         64x64 latent (512 px), fp16, eager: median ms per forward.
  edit   StableDiffusionInstructPix2PixPipeline, 512 px, 30 Euler-Ancestral steps, text cfg 7.5,
         image cfg 1.5, fp16: median s per edit (text encoding, VAE encode/decode included), then
         one more edit timed part by part (`stages`), against `rewardedit bench-edit --stages`.
  unet_fb the UNet's forward + backward alone (batch 8, 32x32 latent = 256 px, fp32, loss = mean
         of the output): the part of a training step that `rewardedit bench-unet --backward
         --batch 8 --latent 32` times on our side, without data, VAE, CLIP or optimiser.
  convgrad a 3x3 convolution's weight gradient on SD 1.5's shapes (batch 8, 256 px): PyTorch's
         kernel against burn 0.22's generic formula, which burn-tch falls back to (is that formula
         why our LibTorch-CUDA training step is ~10x PyTorch's?).
  train  one stage-1 training step at 256 px, batch 8, fp32 weights (as ours): frozen VAE encode
         and CLIP text encode, UNet forward + backward, AdamW, EMA update: samples/s.

Prints one JSON line per part and writes them to --out. Needs torch and diffusers (the GPU
machine's image has torch; diffusers travels as a wheel, see scripts/gpu-bench.sh).

    python3 scripts/bench_sd15_gpu.py [--parts unet,unet_fb,edit,train] [--out FILE]

On the CPU, the forward + backward of any UNet config against `bench-unet --backward` (the
same config, batch and latent):
    scripts/.venv/bin/python scripts/bench_sd15_gpu.py --device cpu --parts unet_fb --iters 5 \
        --unet-config checkpoints/world-teacher/unet/config.json --batch 16 --latent 32
A dry run of the logic on a CPU (slow at these sizes, and in fp32):
    scripts/.venv/bin/python scripts/bench_sd15_gpu.py --device cpu --half f32 --iters 1 --edit-steps 2
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
DEV = "cuda"
HALF = torch.float16


def unet_model(dtype):
    from diffusers import UNet2DConditionModel

    # SD 1.5's config (diffusers' defaults are SD 1.x but with a 1280-wide cross-attention).
    return UNet2DConditionModel(sample_size=64, in_channels=8, out_channels=4, cross_attention_dim=768,
                                attention_head_dim=8).to(DEV, dtype)


def vae_model(dtype):
    from diffusers import AutoencoderKL

    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, sample_size=512,
                         block_out_channels=(128, 256, 512, 512),
                         down_block_types=("DownEncoderBlock2D",) * 4,
                         up_block_types=("UpDecoderBlock2D",) * 4).to(DEV, dtype)


def text_model(dtype):
    from transformers import CLIPTextConfig, CLIPTextModel

    cfg = CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                         num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
                         projection_dim=768)
    return CLIPTextModel(cfg).to(DEV, dtype)


def sync():
    if DEV == "cuda":
        torch.cuda.synchronize()


def sync_time(fn):
    sync()
    t = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t


def bench_unet(iters, latent=64):
    unet = unet_model(HALF).eval()
    g = torch.Generator(DEV).manual_seed(0)
    x = torch.randn(3, 8, latent, latent, device=DEV, dtype=HALF, generator=g)
    t = torch.full((3,), 500, device=DEV)
    text = torch.randn(3, 77, 768, device=DEV, dtype=HALF, generator=g)
    with torch.no_grad():
        first = sync_time(lambda: unet(x, t, text))
        for _ in range(2):
            unet(x, t, text)
        times = sorted(sync_time(lambda: unet(x, t, text)) for _ in range(iters))
    return dict(part="unet", batch=3, latent=latent, dtype=str(HALF), first_s=first,
                median_ms=statistics.median(times) * 1e3, min_ms=times[0] * 1e3, calls=iters)


def bench_unet_fb(iters, batch=8, latent=32, config=None):
    if config:
        from diffusers import UNet2DConditionModel
        unet = UNet2DConditionModel.from_config(json.loads(Path(config).read_text())).to(DEV)
    else:
        unet = unet_model(torch.float32)
    unet.train()
    cfg = unet.config
    g = torch.Generator(DEV).manual_seed(0)
    x = torch.randn(batch, cfg.in_channels, latent, latent, device=DEV, generator=g)
    t = torch.full((batch,), 500, device=DEV)
    text = torch.randn(batch, 77, cfg.cross_attention_dim, device=DEV, generator=g)

    def once():
        unet.zero_grad(set_to_none=True)
        unet(x, t, text).sample.mean().backward()

    first = sync_time(once)
    for _ in range(2):
        once()
    times = sorted(sync_time(once) for _ in range(iters))
    return dict(part="unet_fb", config=config or "sd15", batch=batch, latent=latent, dtype="f32", first_s=first,
                median_ms=statistics.median(times) * 1e3, min_ms=times[0] * 1e3, calls=iters)


def bench_convgrad(iters):
    """A 3x3 convolution's weight gradient two ways, on SD 1.5's UNet shapes at 256 px (batch 8):
    PyTorch's own backward-weight kernel (after the forward it needs), and burn 0.22's generic
    formula, which burn-tch uses: a forward convolution of the batch-swapped input with the
    batch-swapped output gradient as its kernel (burn-backend conv.rs, conv2d_weight_grad_no_groups)."""
    rows = []
    for c, side in [(320, 32), (640, 16), (1280, 8)]:
        g = torch.Generator(DEV).manual_seed(0)
        x, grad = (torch.randn(8, c, side, side, device=DEV, generator=g) for _ in range(2))
        w = torch.randn(c, c, 3, 3, device=DEV, generator=g)

        def native():
            ww = w.detach().requires_grad_(True)
            return torch.autograd.grad(torch.nn.functional.conv2d(x, ww, padding=1), ww, grad)[0]

        def generic():
            return torch.nn.functional.conv2d(x.transpose(0, 1), grad.transpose(0, 1), padding=1).transpose(0, 1)

        def forward():
            return torch.nn.functional.conv2d(x, w, padding=1)

        want, got = native(), generic()
        err = ((want - got).abs().max() / want.abs().max()).item()
        ms = {}
        for name, fn in [("forward", forward), ("native_fwd_wgrad", native), ("burn_generic_wgrad", generic)]:
            fn()
            ms[name + "_ms"] = statistics.median(sync_time(fn) for _ in range(iters)) * 1e3
        rows.append(dict(channels=c, side=side, rel_diff=err, **ms))
    return dict(part="convgrad", batch=8, dtype="f32", shapes=rows)


def bench_edit(iters, steps, size=512):
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline
    from transformers import CLIPTokenizer

    t0 = time.perf_counter()
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=vae_model(HALF), text_encoder=text_model(HALF),
        # The golden tokenizer's ids all exist in CLIP's 49,408-token vocabulary.
        tokenizer=CLIPTokenizer.from_pretrained(ROOT / "tests/golden/ip2p_tiny/tokenizer"),
        unet=unet_model(HALF), scheduler=EulerAncestralDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
            steps_offset=1, timestep_spacing="leading"),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    build = time.perf_counter() - t0
    image = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))

    def once():
        with torch.no_grad():
            pipe("make the sky purple", image=image, num_inference_steps=steps, guidance_scale=7.5,
                 image_guidance_scale=1.5, output_type="np", generator=torch.Generator(DEV).manual_seed(1))

    first = sync_time(once)
    times = sorted(sync_time(once) for _ in range(iters))
    return dict(part="edit", size=size, steps=steps, dtype=str(HALF), build_s=build, first_s=first,
                median_s=statistics.median(times), min_s=times[0], edits=iters, stages=edit_stages(pipe, once))


def edit_stages(pipe, once):
    """One more edit with the pipeline's parts timed where diffusers calls them (a sync on each
    side of each call), as `rewardedit bench-edit --stages` times ours: text encoding, VAE encode,
    the UNet calls, VAE decode, and the rest (scheduler, guidance, image processing, host)."""
    spent = dict(text=0.0, vae_encode=0.0, unet=0.0, vae_decode=0.0)
    calls = dict(unet=0)

    def wrap(obj, attr, key):
        inner = getattr(obj, attr)

        def timed(*a, **k):
            sync()
            t = time.perf_counter()
            out = inner(*a, **k)
            sync()
            spent[key] += time.perf_counter() - t
            calls[key] = calls.get(key, 0) + 1
            return out

        setattr(obj, attr, timed)

    wrap(pipe.text_encoder, "forward", "text")
    wrap(pipe.vae, "encode", "vae_encode")
    wrap(pipe.vae, "decode", "vae_decode")
    wrap(pipe.unet, "forward", "unet")
    total = sync_time(once)
    stages = {k: round(v, 4) for k, v in spent.items()}
    stages.update(total=round(total, 4), other=round(total - sum(spent.values()), 4),
                  unet_per_call=round(spent["unet"] / max(calls["unet"], 1), 4), calls=calls)
    return stages


def bench_train(steps, batch=8, res=256):
    unet = unet_model(torch.float32).train()
    vae = vae_model(torch.float32).eval().requires_grad_(False)
    text = text_model(torch.float32).eval().requires_grad_(False)
    ema = [p.detach().clone() for p in unet.parameters()]
    opt = torch.optim.AdamW(unet.parameters(), lr=5e-5)
    alphas = torch.cumprod(1 - torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, device=DEV) ** 2, 0)
    g = torch.Generator(DEV).manual_seed(0)

    def step():
        src = torch.rand(batch, 3, res, res, device=DEV, generator=g) * 2 - 1
        tgt = torch.rand(batch, 3, res, res, device=DEV, generator=g) * 2 - 1
        ids = torch.randint(0, 49408, (batch, 77), device=DEV, generator=g)
        with torch.no_grad():
            z = vae.encode(tgt).latent_dist.sample(generator=g) * 0.18215
            z_src = vae.encode(src).latent_dist.mode()
            cond = text(ids)[0]
        noise = torch.randn(z.shape, device=DEV, generator=g)
        t = torch.randint(0, 1000, (batch,), device=DEV, generator=g)
        a = alphas[t].view(-1, 1, 1, 1)
        noisy = a.sqrt() * z + (1 - a).sqrt() * noise
        pred = unet(torch.cat([noisy, z_src], 1), t, cond).sample
        loss = torch.nn.functional.mse_loss(pred, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema, [p.detach() for p in unet.parameters()], 1 - 0.9999)

    first = sync_time(step)
    for _ in range(2):
        step()
    total = sync_time(lambda: [step() for _ in range(steps)])
    return dict(part="train", res=res, batch=batch, dtype="f32", first_s=first, steps=steps,
                steps_per_s=steps / total, samples_per_s=steps * batch / total)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="unet,unet_fb,edit,train")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--edit-steps", type=int, default=30)
    ap.add_argument("--edit-size", type=int, default=512, help="edit: image side, px")
    ap.add_argument("--edit-iters", type=int, default=3, help="edit: timed edits")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--half", default="f16", choices=["f16", "bf16", "f32"], help="precision of unet and edit")
    ap.add_argument("--out", default=None)
    ap.add_argument("--unet-latent", type=int, default=64, help="unet: latent side (64 = 512 px)")
    ap.add_argument("--unet-config", default=None, help="unet_fb: a diffusers UNet config.json instead of SD 1.5's")
    ap.add_argument("--batch", type=int, default=8, help="unet_fb: batch")
    ap.add_argument("--latent", type=int, default=32, help="unet_fb: latent side")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = ap.parse_args()
    import diffusers

    global DEV, HALF
    if args.threads:
        torch.set_num_threads(args.threads)
    DEV = args.device
    HALF = dict(f16=torch.float16, bf16=torch.bfloat16, f32=torch.float32)[args.half]
    info = dict(part="env", torch=torch.__version__, diffusers=diffusers.__version__,
                device=torch.cuda.get_device_name(0) if DEV == "cuda" else DEV)
    print(json.dumps(info), flush=True)
    rows = [info]
    for part in args.parts.split(","):
        fn = dict(unet=lambda: bench_unet(args.iters, args.unet_latent), unet_fb=lambda: bench_unet_fb(args.iters, args.batch, args.latent, args.unet_config), convgrad=lambda: bench_convgrad(args.iters), edit=lambda: bench_edit(args.edit_iters, args.edit_steps, args.edit_size), train=lambda: bench_train(args.iters))[part]
        row = fn()
        print(json.dumps(row), flush=True)
        rows.append(row)
        torch.cuda.empty_cache()
    if args.out:
        Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
