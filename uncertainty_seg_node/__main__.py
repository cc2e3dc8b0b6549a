"""`python -m uncertainty_seg_node` is the `uncertainty-seg` command."""

from uncertainty_seg_node.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
