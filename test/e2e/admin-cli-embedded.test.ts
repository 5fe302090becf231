// The admin CLI against an embedded agent (PGlite + local directory): see admin-cli.ts.
import { adminCliSuite } from './admin-cli.js';

adminCliSuite('embedded');
