"""The run folder and sweeps: the entry wrapper, the folder lock and guard, job status, sweep resume, DDP scope, CPU threads."""
