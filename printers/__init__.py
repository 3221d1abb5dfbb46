"""Card faces, documents, printer drivers, chip encoders, simulators and the outlet agent."""
