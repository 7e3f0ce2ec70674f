plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.ecgnet.demo"
    compileSdk = 34

    defaultConfig {
        applicationId = "org.ecgnet.demo"
        minSdk = 26
        targetSdk = 34
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_11
        targetCompatibility = JavaVersion.VERSION_11
    }
    kotlinOptions {
        jvmTarget = "11"
    }
    androidResources {
        // the model is memory-mapped from the APK: keep it uncompressed
        noCompress += "tflite"
    }
}

dependencies {
    implementation(project(":core"))
    // LiteRT (formerly TensorFlow Lite) Interpreter API; XNNPACK is the default CPU path.
    implementation("com.google.ai.edge.litert:litert:1.4.1")
    implementation("com.google.ai.edge.litert:litert-gpu:1.4.1")
    implementation("androidx.appcompat:appcompat:1.7.0")
}
