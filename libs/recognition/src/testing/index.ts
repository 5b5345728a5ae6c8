/** Test doubles for the AWS backend (`@facewatch/recognition/testing`); imported only by tests. */
export * from './fake-rekognition.js';
