"""``hedgestack soak``: the terminal against the simulator under a scripted trader, with faults and a SIGKILL,
checked at the end against the exchange's truth (see :mod:`hedgestack.soak.run`)."""
