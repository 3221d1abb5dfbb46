"""Making cards: devices (protocols, connections, simulators), documents, and the outlet agent."""
