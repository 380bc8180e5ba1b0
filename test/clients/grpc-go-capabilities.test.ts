import { capabilityMatrix } from './capabilities.js';

capabilityMatrix('grpc-go');
