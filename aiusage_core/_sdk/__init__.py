"""Tracking the clients of Stainless-generated SDKs (``openai``, ``anthropic``), for any
provider adapter (private).

Modules: ``_wrap`` (per-client tracking), ``_instrument`` (process-wide, opt-in), ``_call``
(one tracked ``request()``), ``_stream`` (streams and raw responses). They import no SDK:
the adapter (:class:`aiusage_core._providers.Provider`) names the SDK's classes.
"""
