//! A FIT file written here (header, definitions, records, laps, session,
//! activity, CRCs), so the benchmark has a 10-hour run both sides can read.

use super::*;

/// Seconds from the Unix epoch to FIT's (1989-12-31T00:00:00Z).
pub(super) const FIT_EPOCH: i64 = 631_065_600;

// FIT base types (the type byte of a field definition).
pub(super) const ENUM: u8 = 0x00;
pub(super) const UINT8: u8 = 0x02;
pub(super) const UINT16: u8 = 0x84;
pub(super) const SINT32: u8 = 0x85;
pub(super) const UINT32: u8 = 0x86;
pub(super) const UINT32Z: u8 = 0x8C;

/// The FIT protocol's CRC-16 (its nibble table), over `bytes` from `crc`.
pub(super) fn fit_crc(mut crc: u16, bytes: &[u8]) -> u16 {
    const T: [u16; 16] = [
        0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401, 0xA001, 0x6C00, 0x7800,
        0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
    ];
    for &b in bytes {
        let tmp = T[usize::from(crc & 0xF)];
        crc = ((crc >> 4) & 0x0FFF) ^ tmp ^ T[usize::from(b & 0xF)];
        let tmp = T[usize::from(crc & 0xF)];
        crc = ((crc >> 4) & 0x0FFF) ^ tmp ^ T[usize::from(b >> 4)];
    }
    crc
}

/// A FIT file's records (little-endian, normal headers), then its header
/// and CRCs.
#[derive(Default)]
pub(super) struct FitWriter {
    body: Vec<u8>,
}

impl FitWriter {
    /// A definition message: local type `local` is global message
    /// `global` with `fields` (field number, base type).
    fn define(&mut self, local: u8, global: u16, fields: &[(u8, u8)]) {
        self.body.extend([0x40 | (local & 0x0F), 0, 0]);
        self.body.extend(global.to_le_bytes());
        self.body.push(fields.len() as u8);
        for &(num, base) in fields {
            let size = match base {
                ENUM | UINT8 => 1,
                UINT16 => 2,
                _ => 4,
            };
            self.body.extend([num, size, base]);
        }
    }

    /// Starts a data message of local type `local`; its fields follow in
    /// the defined order.
    fn data(&mut self, local: u8) -> &mut Self {
        self.body.push(local & 0x0F);
        self
    }

    fn u8(&mut self, v: u8) -> &mut Self {
        self.body.push(v);
        self
    }

    fn u16(&mut self, v: u16) -> &mut Self {
        self.body.extend(v.to_le_bytes());
        self
    }

    fn u32(&mut self, v: u32) -> &mut Self {
        self.body.extend(v.to_le_bytes());
        self
    }

    fn i32(&mut self, v: i32) -> &mut Self {
        self.body.extend(v.to_le_bytes());
        self
    }

    /// The 14-byte header (protocol 2.0, profile 21.32, its CRC), the
    /// records and the file CRC.
    fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 16);
        out.extend([14u8, 0x20]);
        out.extend(2132u16.to_le_bytes());
        out.extend((self.body.len() as u32).to_le_bytes());
        out.extend(b".FIT");
        let header_crc = fit_crc(0, &out);
        out.extend(header_crc.to_le_bytes());
        out.extend(&self.body);
        let crc = fit_crc(0, &out);
        out.extend(crc.to_le_bytes());
        out
    }
}

pub(super) fn fit_time(t: DateTime<Utc>) -> u32 {
    (t.timestamp() - FIT_EPOCH).clamp(0, i64::from(u32::MAX)) as u32
}

pub(super) fn semicircles(degrees: f64) -> i32 {
    (degrees * 2_147_483_648.0 / 180.0).round() as i32
}

/// The generated activity's start: 2025-06-01 05:00 UTC.
pub fn fit_start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_748_754_000, 0).unwrap_or_default()
}

/// A run of `hours` recorded at 1 Hz as a FIT activity file, the same
/// every time for the same `serial` (the device's serial number, so that
/// files differ by their bytes): file id, timer start, one `record` a
/// second (time, position on a 1.5 km-radius loop, altitude rolling over
/// ±35 m, distance, speed near 2.9 m/s, heart rate drifting 138 → 152
/// bpm, cadence), a lap an hour, timer stop, session and activity.
pub fn generated_fit(hours: u32, serial: u32) -> Vec<u8> {
    let start = fit_start();
    let t0 = fit_time(start);
    let seconds = hours.max(1) * 3600;
    let mut f = FitWriter::default();
    // file_id: type activity (4), manufacturer development (255).
    f.define(
        0,
        0,
        &[
            (0, ENUM),
            (1, UINT16),
            (2, UINT16),
            (3, UINT32Z),
            (4, UINT32),
        ],
    );
    f.data(0).u8(4).u16(255).u16(1).u32(serial).u32(t0);
    // event: timer (0) start (0), later stop_all (4).
    f.define(1, 21, &[(253, UINT32), (0, ENUM), (1, ENUM)]);
    f.data(1).u32(t0).u8(0).u8(0);
    f.define(
        2,
        20,
        &[
            (253, UINT32),
            (0, SINT32),
            (1, SINT32),
            (2, UINT16),
            (3, UINT8),
            (4, UINT8),
            (5, UINT32),
            (6, UINT16),
        ],
    );
    f.define(
        3,
        19,
        &[
            (253, UINT32),
            (254, UINT16),
            (2, UINT32),
            (7, UINT32),
            (8, UINT32),
            (9, UINT32),
        ],
    );
    let (lat0, lon0, radius) = (48.137_f64, 11.575_f64, 1_500.0_f64);
    let metres_per_degree = 111_320.0;
    let mut distance = 0.0_f64;
    let (mut lap_from, mut lap_from_m, mut laps) = (0u32, 0.0_f64, 0u16);
    let (mut hr_sum, mut hr_max) = (0u64, 0u8);
    for s in 0..seconds {
        let t = f64::from(s);
        let speed = 2.9 + 0.25 * (t / 420.0).sin() - 0.3 * t / 36_000.0;
        if s > 0 {
            distance += speed;
        }
        let angle = distance / radius;
        let lat = lat0 + radius * angle.cos() / metres_per_degree;
        let lon = lon0 + radius * angle.sin() / (metres_per_degree * lat0.to_radians().cos());
        let altitude = 520.0 + 35.0 * (t / 900.0).sin();
        let hr = (138.0 + 14.0 * t / 36_000.0 + 6.0 * (t / 300.0).sin()).round() as u8;
        // Running cadence in FIT is strides (one foot) per minute.
        let cadence = (85.0 + 2.0 * (t / 200.0).sin()).round() as u8;
        hr_sum += u64::from(hr);
        hr_max = hr_max.max(hr);
        f.data(2)
            .u32(t0 + s)
            .i32(semicircles(lat))
            .i32(semicircles(lon))
            .u16(((altitude + 500.0) * 5.0).round() as u16)
            .u8(hr)
            .u8(cadence)
            .u32((distance * 100.0).round() as u32)
            .u16((speed * 1000.0).round() as u16);
        if (s + 1) % 3600 == 0 || s + 1 == seconds {
            let ms = (s + 1 - lap_from) * 1000;
            f.data(3)
                .u32(t0 + s)
                .u16(laps)
                .u32(t0 + lap_from)
                .u32(ms)
                .u32(ms)
                .u32(((distance - lap_from_m) * 100.0).round() as u32);
            laps += 1;
            lap_from = s + 1;
            lap_from_m = distance;
        }
    }
    let end = t0 + seconds - 1;
    f.data(1).u32(end).u8(0).u8(4);
    f.define(
        4,
        18,
        &[
            (253, UINT32),
            (2, UINT32),
            (5, ENUM),
            (6, ENUM),
            (7, UINT32),
            (8, UINT32),
            (9, UINT32),
            (16, UINT8),
            (17, UINT8),
            (25, UINT16),
            (26, UINT16),
        ],
    );
    let total_ms = seconds * 1000;
    f.data(4)
        .u32(end)
        .u32(t0)
        .u8(1) // running
        .u8(0) // generic
        .u32(total_ms)
        .u32(total_ms)
        .u32((distance * 100.0).round() as u32)
        .u8((hr_sum / u64::from(seconds)) as u8)
        .u8(hr_max)
        .u16(0)
        .u16(laps);
    f.define(
        5,
        34,
        &[
            (253, UINT32),
            (0, UINT32),
            (1, UINT16),
            (2, ENUM),
            (3, ENUM),
            (4, ENUM),
        ],
    );
    // activity: manual (0), event activity (26), stop (1).
    f.data(5).u32(end).u32(total_ms).u16(1).u8(0).u8(26).u8(1);
    f.finish()
}
