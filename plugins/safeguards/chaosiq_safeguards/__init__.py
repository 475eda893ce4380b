"""chaosiq-safeguards: stop a Chaos Toolkit run when a safeguard says so.

Verdicts come from the ChaosIQ server's policies for the execution, from local
safeguard probes (any Chaos Toolkit probe with a tolerance) and from any other
plugin's ``chaosiq_safeguard_verdicts`` hook. They are gathered by one
background poller per run; the run thread only reads cached state.
"""

__version__ = "0.1.0"
