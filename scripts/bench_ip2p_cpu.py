"""Times one InstructPix2Pix edit with diffusers on the CPU: the reference for
`cargo bench --workspace --bench edit` (crates/models/benches/edit.rs), which runs this script
in the same run and reports the ratio.

The model is the tiny golden folder tests/golden/ip2p_tiny/ (UNet 16/32, tiny VAE and CLIP),
the settings those of the Rust bench: a 32x32 image, Euler-Ancestral, text cfg 7.5, image cfg
1.5, torch threads = 2 (the machine's cores). Prints one JSON line:
{"median_s": ..., "min_s": ..., "runs": ..., "steps": ..., "torch": ..., "diffusers": ...}

    /work/main/scripts/.venv/bin/python scripts/bench_ip2p_cpu.py [--steps 20] [--runs 15] [--size 32]
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import diffusers
import torch
from diffusers import StableDiffusionInstructPix2PixPipeline

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "tests/golden/ip2p_tiny"))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    pipe = StableDiffusionInstructPix2PixPipeline.from_pretrained(
        args.model, safety_checker=None, feature_extractor=None, requires_safety_checker=False
    )
    pipe.set_progress_bar_config(disable=True)
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, args.size, args.size, generator=g)

    def once():
        t = time.perf_counter()
        with torch.no_grad():
            pipe("make the sky blue", image=image, num_inference_steps=args.steps, guidance_scale=7.5,
                 image_guidance_scale=1.5, output_type="pt", generator=torch.Generator().manual_seed(1))
        return time.perf_counter() - t

    once()  # warm-up
    times = sorted(once() for _ in range(args.runs))
    print(json.dumps(dict(median_s=statistics.median(times), min_s=times[0], runs=args.runs, steps=args.steps,
                          size=args.size, threads=args.threads, torch=torch.__version__,
                          diffusers=diffusers.__version__)))


if __name__ == "__main__":
    main()
