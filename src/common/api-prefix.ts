/** Every route but the operational ones (health, metrics, docs) lives under this prefix. */
export const API_PREFIX = 'api/v1';
