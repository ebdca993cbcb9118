//! Network faults and a killed client (issue "Proof", item 2): being written.
