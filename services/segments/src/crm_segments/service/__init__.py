"""The use cases of the segments service, the only code that writes: `membership` (live
membership and batch computations), `profiles` (what other services' events change) and
`segments` (what the merchant does over HTTP)."""
