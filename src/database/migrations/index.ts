import { InitialSchema1764316800000 } from './1764316800000-InitialSchema';

// Listed explicitly so the same classes run from ts (tests) and js (dist).
export const migrations = [InitialSchema1764316800000];
