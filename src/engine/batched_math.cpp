// Filled in by the batched-backend work.
