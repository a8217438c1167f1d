"""How a run behaves at run time: resume, locks, RNG state, validation."""
