import { clientMatrix } from './matrix.js';

clientMatrix('grpc-go');
