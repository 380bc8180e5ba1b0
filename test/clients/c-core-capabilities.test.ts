import { capabilityMatrix } from './capabilities.js';

capabilityMatrix('c-core');
