// `npm run build`'s last step: the template a new embedded database starts from.
import { templatePath, writeTemplate } from '../database/embedded-template';

const started = Date.now();
writeTemplate().then(
  () => process.stdout.write(`${templatePath()} (${Date.now() - started} ms)\n`),
  (error: unknown) => {
    process.stderr.write(`embedded template: ${(error as Error).stack}\n`);
    process.exit(1);
  },
);
