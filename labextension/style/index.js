// Style entry point for the federated build.
import './base.css';
