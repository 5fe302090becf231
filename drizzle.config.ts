// drizzle-kit configuration: `npx drizzle-kit generate` writes a new migration into drizzle/ after a
// change to metadata/schema.ts. The same migrations serve PostgreSQL and PGlite.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './metadata/schema.ts',
  out: './drizzle',
});
