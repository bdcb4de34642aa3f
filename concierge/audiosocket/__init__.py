"""The AudioSocket protocol: a sans-IO codec and the asyncio transports over it."""
