package org.ecgnet.demo

import org.ecgnet.core.Json

/** A recording in mV, lead-major [C][n], sampled at [fs] Hz. */
class Recording(val leads: Array<DoubleArray>, val fs: Double, val description: String) {
    companion object {
        /** The "ecgnet-recording/1" JSON that export.golden writes (sample_recording.json). */
        fun fromJson(text: String): Recording {
            val o = Json.parse(text)
            require(Json.str(o, "format") == "ecgnet-recording/1") { "not an ecgnet recording JSON" }
            val leads = Json.matrix(Json.get(o, "leads"))
            return Recording(leads, Json.num(o, "fs"), Json.str(o, "description") ?: "recording")
        }

        /**
         * CSV: optional header lines starting with '#' (one must be "# fs=<Hz>"), then one row per
         * sample with one column per lead, values in mV.
         */
        fun fromCsv(text: String, name: String): Recording {
            var fs = Double.NaN
            val rows = ArrayList<DoubleArray>()
            for (raw in text.lineSequence()) {
                val line = raw.trim()
                if (line.isEmpty()) continue
                if (line.startsWith("#")) {
                    val m = Regex("fs\\s*=\\s*([0-9.]+)").find(line)
                    if (m != null) fs = m.groupValues[1].toDouble()
                    continue
                }
                rows.add(line.split(',', ';', '\t').map { it.trim().toDouble() }.toDoubleArray())
            }
            require(!fs.isNaN()) { "CSV needs a '# fs=<Hz>' header line" }
            require(rows.isNotEmpty()) { "CSV has no samples" }
            val c = rows[0].size
            val leads = Array(c) { l -> DoubleArray(rows.size) { t -> rows[t][l] } }
            return Recording(leads, fs, name)
        }
    }
}
