"""Running on a Ray cluster: joining it, shipping code, per-node checks, ports and cleaning up Ray processes."""
