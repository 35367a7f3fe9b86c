"""Container backends: run one workload under one security mode and report what happened."""
