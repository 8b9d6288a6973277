//! Tests of the FEC scheme: unit tests, property tests, the vectors, and a lossy path.

mod netsim;
mod props;
mod support;
mod unit;
mod vectors;
