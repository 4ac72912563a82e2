import { InitialSchema1764316800000 } from './1764316800000-InitialSchema';
import { CredentialPolicy1795860000000 } from './1795860000000-CredentialPolicy';

// Listed explicitly so the same classes run from ts (tests) and js (dist).
export const migrations = [InitialSchema1764316800000, CredentialPolicy1795860000000];
