"""edge-bench: per-stage latency, memory and throughput on the device it runs on."""
