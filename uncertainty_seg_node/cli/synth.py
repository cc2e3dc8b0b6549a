"""`uncertainty-seg synth`: render the procedural driving world into folders or ROS 2 bags.

    uncertainty-seg synth --list
    uncertainty-seg synth --domain city-day --count 200 --size 224x448 --seed 0 --out data/syn
    uncertainty-seg synth --domain city-day,fog,night --count 300 --seed 1 --bag drive.bag
        [--storage mcap|sqlite3] [--compressed] [--rate 10]

A comma-separated --domain splits the frames across the domains in order. Folders hold
independent scenes (a training or test set) unless --sequence asks for one coherent drive;
bags always hold a coherent drive.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from uncertainty_seg_node.cli import arguments
from uncertainty_seg_node.errors import UserError

if TYPE_CHECKING:
    from uncertainty_seg_node.synth.drive import SynthFrame


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `synth`."""
    parser.add_argument("--list", action="store_true", help="print the domain names and exit")
    parser.add_argument("--domain", metavar="NAME[,NAME...]",
                        help="domain name, or a comma-separated list for a drive through "
                        "several domains (see --list)")
    parser.add_argument("--count", type=int, default=100, metavar="N",
                        help="number of frames (default 100)")
    arguments.add_size(parser, default="224x448", help="frame size HxW (default 224x448)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="random seed (default 0)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--out", type=Path, metavar="DIR",
                     help="Cityscapes-format folder to write into")
    out.add_argument("--bag", type=Path, metavar="FILE",
                     help="ROS 2 bag (a new folder) to write a drive into")
    parser.add_argument("--split", default="train", help="split folder name (default train)")
    parser.add_argument("--sequence", action="store_true",
                        help="with --out: one coherent drive instead of independent scenes")
    arguments.add_storage(parser)
    arguments.add_compressed(parser)
    parser.add_argument("--rate", type=float, default=10.0,
                        help="frame rate of a drive in Hz (default 10)")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes rendering independent scenes (default 1); the output "
                        "does not depend on it")


def _frames(args: argparse.Namespace, size: tuple[int, int], drive: bool
            ) -> Iterator[SynthFrame]:
    from uncertainty_seg_node.synth import parse_domains, render_drive, render_frames

    domains = parse_domains(args.domain)
    if drive:
        return render_drive(domains, args.count, size, args.seed, rate=args.rate)

    jobs: list[tuple[str, tuple[int, int], int, int]] = []
    for k, domain in enumerate(domains):
        first, last = args.count * k // len(domains), args.count * (k + 1) // len(domains)
        jobs += [(domain.name, size, args.seed, i) for i in range(first, last)]
    if args.workers <= 1:
        return (frame for job in jobs for frame in render_frames(job[0], 1, size, job[2], job[3]))
    return _parallel(jobs, args.workers)


def _one(job: tuple[str, tuple[int, int], int, int]) -> SynthFrame:
    """Frame `index` of an independent set (depends on nothing else, so any process renders it)."""
    from uncertainty_seg_node.synth import render_frames

    domain, size, seed, index = job
    return next(iter(render_frames(domain, 1, size, seed, start=index)))


def _parallel(jobs: list[tuple[str, tuple[int, int], int, int]], workers: int
              ) -> Iterator[SynthFrame]:
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(_one, jobs, chunksize=4)


def _progress(frames: Iterable[SynthFrame], total: int) -> Iterable[SynthFrame]:
    """Pass frames through, with a progress bar on a terminal."""
    if not sys.stderr.isatty():
        return frames
    from tqdm import tqdm

    return tqdm(frames, total=total, unit="frame", desc="synth")  # type: ignore[no-any-return]


def run(args: argparse.Namespace) -> int:
    """Render and write; print one summary line."""
    from uncertainty_seg_node.synth import domain_names

    if args.list:
        print("\n".join(domain_names()))
        return 0
    if not args.domain:
        raise UserError("--domain is required (see `uncertainty-seg synth --list`)")
    if args.out is None and args.bag is None:
        raise UserError("give --out DIR (Cityscapes-format folder) or --bag FILE (ROS 2 bag)")
    if args.count < 1:
        raise UserError(f"--count must be at least 1; got {args.count}")
    if args.rate <= 0:
        raise UserError(f"--rate must be positive; got {args.rate}")
    if args.compressed and args.bag is None:
        raise UserError("--compressed applies to --bag only")
    size = args.size
    start = time.perf_counter()
    if args.bag is not None:
        from uncertainty_seg_node.synth.writers import write_bag

        frames = _progress(_frames(args, size, drive=True), args.count)
        count = write_bag(frames, args.bag, args.storage, args.compressed, args.rate)
        where = f"bag {args.bag} ({args.storage}{', jpeg' if args.compressed else ''})"
    else:
        from uncertainty_seg_node.synth.writers import write_folder

        frames = _progress(_frames(args, size, drive=args.sequence), args.count)
        count = write_folder(frames, args.out, args.split, 0 if args.sequence else None)
        where = f"{args.out} (split {args.split})"
    seconds = time.perf_counter() - start
    print(f"wrote {count} frames of {args.domain} at {size[0]}x{size[1]} to {where} "
          f"in {seconds:.1f} s")
    return 0
