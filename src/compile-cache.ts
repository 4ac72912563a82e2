// Imported first by main.ts. From Node 22.1 on, V8 keeps the compiled code of
// the modules in a cache directory (NODE_COMPILE_CACHE, else the system's
// temporary directory), so a restart does not compile them again. Older
// versions have no such cache and skip this.
import * as nodeModule from 'node:module';

(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
