"""Agreement documents: the frozen models of SPEC §3 and the loader that reads them exactly."""
