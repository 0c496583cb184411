//! The `build-completed` Lambda function. Not built yet: the functions issue wires it to lambda_runtime.
//! Until then the binary says so and exits non-zero, so nobody mistakes it for a working one.

fn main() -> std::process::ExitCode {
    eprintln!(
        "deckhand-fn-build-completed: not built yet (the Lambda functions land in a later issue)"
    );
    std::process::ExitCode::FAILURE
}
