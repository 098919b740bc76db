//! State shared by every instance of a deployment: the Redis connection and
//! what lives in it (the cache generations; the rate limiter's budgets use
//! it too). Without `REDIS_URL` the same interfaces keep everything in
//! process, which is exact for one instance.

pub mod generations;
pub mod redis;
