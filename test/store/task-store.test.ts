import { mapHarness, sqliteHarness } from './harnesses.js';
import { describeTaskStoreContract } from './task-store-contract.js';

describeTaskStoreContract('@keyv/sqlite on a temp file (sqlite://)', sqliteHarness());
describeTaskStoreContract('Keyv over new Map() (memory://, reopened as a passed Keyv)', mapHarness());
