// The TypeORM CLI's data source (built to dist/src/database/data-source.js for npm run migration:*).
export { default } from './src/database/data-source';
