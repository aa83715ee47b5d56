"""The pure domain: values and rules about people, addresses and matching. No I/O."""
