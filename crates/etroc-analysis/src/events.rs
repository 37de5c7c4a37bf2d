//! The event table: hits pivoted to one row per event with one column per board (the pivot of
//! `cut_etroc1_single_run.py`).
//!
//! [`EventTable::build`] indexes a hit table by `(event, board)`; [`EventTable::column`] then
//! gives any per-hit variable as a per-event column of one board, NaN where the board has no hit
//! in the event (the pandas pivot the cuts, the time-walk correction and the resolution rely on).
//! For the beam telescope the boards are 0, 1, 3 and every built event has exactly one hit of
//! each.

use crate::error::{Error, Result};

/// Marks "no hit" in the hit index.
const NO_HIT: u32 = u32::MAX;

/// Hits indexed by event and board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTable {
    events: Vec<i64>,
    boards: Vec<u8>,
    /// `hit[b][e]`: index of the hit of board `boards[b]` in event `events[e]`, or `NO_HIT`.
    hit: Vec<Vec<u32>>,
}

impl EventTable {
    /// Indexes the hits given by the parallel columns `event` and `board` (one entry per hit).
    ///
    /// Events are the sorted distinct values of `event`; boards the sorted distinct values of
    /// `board`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the lengths differ, there are 2^32 or more hits, or an event
    /// has two hits of one board (the pivot needs at most one).
    pub fn build(event: &[i64], board: &[u8]) -> Result<Self> {
        if event.len() != board.len() {
            return Err(Error::InvalidArgument(format!(
                "event table: {} events but {} board ids",
                event.len(),
                board.len()
            )));
        }
        if event.len() >= NO_HIT as usize {
            return Err(Error::InvalidArgument(
                "event table: too many hits (at most 2^32 - 1)".into(),
            ));
        }
        let sorted = event.windows(2).all(|w| w[0] <= w[1]);
        let events: Vec<i64> = if sorted {
            let mut e = event.to_vec();
            e.dedup();
            e
        } else {
            let mut e = event.to_vec();
            e.sort_unstable();
            e.dedup();
            e
        };
        let mut seen = [false; 256];
        for &b in board {
            seen[usize::from(b)] = true;
        }
        let boards: Vec<u8> = (0..=255u8).filter(|&b| seen[usize::from(b)]).collect();
        let mut slot = [usize::MAX; 256];
        for (i, &b) in boards.iter().enumerate() {
            slot[usize::from(b)] = i;
        }
        let mut hit = vec![vec![NO_HIT; events.len()]; boards.len()];
        let mut e_idx = 0usize;
        for (h, (&e, &b)) in event.iter().zip(board).enumerate() {
            if sorted {
                while events[e_idx] != e {
                    e_idx += 1;
                }
            } else {
                e_idx = events.binary_search(&e).unwrap_or_default();
            }
            let cell = &mut hit[slot[usize::from(b)]][e_idx];
            if *cell != NO_HIT {
                return Err(Error::InvalidArgument(format!(
                    "event {e} has more than one hit of board {b}; the event table needs at \
                     most one hit per board and event"
                )));
            }
            *cell = h as u32;
        }
        Ok(Self {
            events,
            boards,
            hit,
        })
    }

    /// The event numbers, ascending.
    pub fn events(&self) -> &[i64] {
        &self.events
    }

    /// The board ids present, ascending.
    pub fn boards(&self) -> &[u8] {
        &self.boards
    }

    /// Number of events.
    pub fn n_events(&self) -> usize {
        self.events.len()
    }

    /// Position of `board` in [`EventTable::boards`].
    pub fn board_index(&self, board: u8) -> Option<usize> {
        self.boards.iter().position(|&b| b == board)
    }

    /// Position of `event` in [`EventTable::events`].
    pub fn event_index(&self, event: i64) -> Option<usize> {
        self.events.binary_search(&event).ok()
    }

    /// The hit index of `board` in the event at position `event_index`, if any.
    pub fn hit(&self, board: u8, event_index: usize) -> Option<usize> {
        let b = self.board_index(board)?;
        let h = *self.hit[b].get(event_index)?;
        (h != NO_HIT).then_some(h as usize)
    }

    /// The per-hit `values` (one per hit, in the order given to [`EventTable::build`]) as a
    /// per-event column of `board`: NaN where the board has no hit in the event, and all NaN
    /// for a board that is not present.
    ///
    /// # Panics
    ///
    /// If `values` is shorter than the hit columns the table was built from.
    pub fn column(&self, board: u8, values: &[f64]) -> Vec<f64> {
        match self.board_index(board) {
            None => vec![f64::NAN; self.events.len()],
            Some(b) => self.hit[b]
                .iter()
                .map(|&h| {
                    if h == NO_HIT {
                        f64::NAN
                    } else {
                        values[h as usize]
                    }
                })
                .collect(),
        }
    }

    /// For every hit, the position of its event in [`EventTable::events`].
    pub fn hit_event_index(&self, n_hits: usize) -> Vec<usize> {
        let mut out = vec![0usize; n_hits];
        for per_board in &self.hit {
            for (e, &h) in per_board.iter().enumerate() {
                if h != NO_HIT && (h as usize) < n_hits {
                    out[h as usize] = e;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pivot_with_missing_board() {
        let event = [0, 0, 0, 1, 1, 2];
        let board = [0, 1, 3, 0, 3, 1];
        let t = EventTable::build(&event, &board).unwrap();
        assert_eq!(t.events(), &[0, 1, 2]);
        assert_eq!(t.boards(), &[0, 1, 3]);
        let v = [10.0, 11.0, 13.0, 20.0, 23.0, 31.0];
        let c1 = t.column(1, &v);
        assert_eq!(c1[0], 11.0);
        assert!(c1[1].is_nan());
        assert_eq!(c1[2], 31.0);
        assert!(t.column(2, &v).iter().all(|x| x.is_nan()));
        assert_eq!(t.hit_event_index(6), vec![0, 0, 0, 1, 1, 2]);
    }

    #[test]
    fn duplicate_board_in_event_is_an_error() {
        let e = EventTable::build(&[0, 0], &[1, 1]).unwrap_err();
        assert!(
            e.to_string().contains("more than one hit of board 1"),
            "{e}"
        );
    }

    #[test]
    fn unsorted_events() {
        let t = EventTable::build(&[5, 2, 5], &[0, 0, 1]).unwrap();
        assert_eq!(t.events(), &[2, 5]);
        assert_eq!(t.hit(0, 1), Some(0));
        assert_eq!(t.hit(1, 0), None);
    }
}
