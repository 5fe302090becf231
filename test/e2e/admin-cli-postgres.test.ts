// The admin CLI against an agent on PostgreSQL + the S3 test server: see admin-cli.ts.
import { adminCliSuite } from './admin-cli.js';

adminCliSuite('postgres+s3');
