// Plain-Java preprocessing core (no Android dependency), shared by the app and the JVM tests.
// JVM check without Gradle: android_demo/core/run_tests.sh GOLDEN_DIR
// With Gradle:              ./gradlew :core:test -Pgolden=/abs/path/to/GOLDEN_DIR
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_11
    targetCompatibility = JavaVersion.VERSION_11
}

dependencies {
    testImplementation("junit:junit:4.13.2")
}

tasks.test {
    val golden = (project.findProperty("golden") as String?) ?: System.getenv("ECGNET_GOLDEN_DIR")
    if (golden != null) {
        systemProperty("ecgnet.golden", golden)
    }
    testLogging { events("passed", "failed"); showStandardStreams = true }
}
