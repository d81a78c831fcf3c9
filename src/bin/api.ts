import { startApiServer } from '../app/api-server.js';
import { onShutdown } from '../lifecycle/shutdown.js';
import { boot } from './boot.js';

const { config, logger } = boot('api');
const api = await startApiServer(config, logger);
onShutdown(logger, [{ name: 'api', run: () => api.close() }]);
