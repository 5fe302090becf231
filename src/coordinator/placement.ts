// Moved to src/cluster/placement.ts (partition placement uses the same rendezvous hash).
export { coordinatorNodeFor } from '../cluster/placement.js';
